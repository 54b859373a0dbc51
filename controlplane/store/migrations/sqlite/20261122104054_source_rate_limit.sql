-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_sources" table
CREATE TABLE `new_sources` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `tenant_id` uuid NOT NULL, `display_name` text NOT NULL, `template_id` text NOT NULL, `metric_id` text NOT NULL DEFAULT (''), `signature_scheme` blob NULL, `event_filter` blob NULL, `field_mappings` blob NULL, `status` text NOT NULL DEFAULT ('active'), `max_body_bytes` integer NOT NULL, `dedup_window_seconds` integer NOT NULL, `rate_limit_per_second` real NOT NULL DEFAULT (0), `rate_limit_burst` integer NOT NULL DEFAULT (0), `revision` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- Copy rows from old table "sources" to new temporary table "new_sources"
INSERT INTO `new_sources` (`id`, `create_time`, `update_time`, `tenant_id`, `display_name`, `template_id`, `metric_id`, `signature_scheme`, `event_filter`, `field_mappings`, `status`, `max_body_bytes`, `dedup_window_seconds`, `revision`) SELECT `id`, `create_time`, `update_time`, `tenant_id`, `display_name`, `template_id`, `metric_id`, `signature_scheme`, `event_filter`, `field_mappings`, `status`, `max_body_bytes`, `dedup_window_seconds`, `revision` FROM `sources`;
-- Drop "sources" table after copying rows
DROP TABLE `sources`;
-- Rename temporary table "new_sources" to "sources"
ALTER TABLE `new_sources` RENAME TO `sources`;
-- Create index "source_tenant_id" to table: "sources"
CREATE INDEX `source_tenant_id` ON `sources` (`tenant_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
