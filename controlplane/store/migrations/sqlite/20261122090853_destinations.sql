-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_config_changes" table
CREATE TABLE `new_config_changes` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `tenant_id` uuid NOT NULL, `kind` text NOT NULL DEFAULT ('source'), `source_id` uuid NULL, `destination_id` uuid NULL, `op` text NOT NULL, `create_time` datetime NOT NULL);
-- Copy rows from old table "config_changes" to new temporary table "new_config_changes"
INSERT INTO `new_config_changes` (`id`, `tenant_id`, `source_id`, `op`, `create_time`) SELECT `id`, `tenant_id`, `source_id`, `op`, `create_time` FROM `config_changes`;
-- Drop "config_changes" table after copying rows
DROP TABLE `config_changes`;
-- Rename temporary table "new_config_changes" to "config_changes"
ALTER TABLE `new_config_changes` RENAME TO `config_changes`;
-- Create index "configchange_source_id" to table: "config_changes"
CREATE INDEX `configchange_source_id` ON `config_changes` (`source_id`);
-- Create index "configchange_destination_id" to table: "config_changes"
CREATE INDEX `configchange_destination_id` ON `config_changes` (`destination_id`);
-- Create "destinations" table
CREATE TABLE `destinations` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `tenant_id` uuid NOT NULL, `display_name` text NOT NULL, `url` text NOT NULL, `shared_key_ciphertext` blob NOT NULL, `key_id` text NOT NULL, `shared_key_fingerprint` text NOT NULL, `signature_style` text NOT NULL DEFAULT ('standard_webhooks'), `signature_header` text NOT NULL DEFAULT (''), `status` text NOT NULL DEFAULT ('active'), `source_ids` json NULL, `retry_policy` blob NULL, `timeout_ms` integer NOT NULL, `max_concurrency` integer NOT NULL, `revision` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- Create index "destination_tenant_id" to table: "destinations"
CREATE INDEX `destination_tenant_id` ON `destinations` (`tenant_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
