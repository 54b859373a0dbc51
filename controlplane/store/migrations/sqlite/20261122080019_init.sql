-- Create "api_keys" table
CREATE TABLE `api_keys` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `tenant_id` uuid NOT NULL, `display_name` text NOT NULL DEFAULT (''), `prefix` text NOT NULL, `hash` blob NOT NULL, `last_used_time` datetime NULL, PRIMARY KEY (`id`));
-- Create index "api_keys_prefix_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_prefix_key` ON `api_keys` (`prefix`);
-- Create index "apikey_tenant_id" to table: "api_keys"
CREATE INDEX `apikey_tenant_id` ON `api_keys` (`tenant_id`);
-- Create "config_changes" table
CREATE TABLE `config_changes` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `tenant_id` uuid NOT NULL, `source_id` uuid NOT NULL, `op` text NOT NULL, `create_time` datetime NOT NULL);
-- Create index "configchange_source_id" to table: "config_changes"
CREATE INDEX `configchange_source_id` ON `config_changes` (`source_id`);
-- Create "secrets" table
CREATE TABLE `secrets` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `tenant_id` uuid NOT NULL, `key_id` text NOT NULL, `ciphertext` blob NOT NULL, `fingerprint` text NOT NULL, `expire_time` datetime NULL, `source_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `secrets_sources_secrets` FOREIGN KEY (`source_id`) REFERENCES `sources` (`id`) ON DELETE CASCADE);
-- Create index "secret_tenant_id" to table: "secrets"
CREATE INDEX `secret_tenant_id` ON `secrets` (`tenant_id`);
-- Create "sources" table
CREATE TABLE `sources` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `tenant_id` uuid NOT NULL, `display_name` text NOT NULL, `template_id` text NOT NULL, `metric_id` text NOT NULL DEFAULT (''), `signature_scheme` blob NULL, `event_filter` blob NULL, `field_mappings` blob NULL, `status` text NOT NULL DEFAULT ('active'), `max_body_bytes` integer NOT NULL, `dedup_window_seconds` integer NOT NULL, `revision` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- Create index "source_tenant_id" to table: "sources"
CREATE INDEX `source_tenant_id` ON `sources` (`tenant_id`);
-- Create "tenants" table
CREATE TABLE `tenants` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `name` text NOT NULL, PRIMARY KEY (`id`));
