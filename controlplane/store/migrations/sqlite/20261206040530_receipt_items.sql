-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_receipts" table
CREATE TABLE `new_receipts` (`id` uuid NOT NULL, `tenant_id` uuid NOT NULL, `source_id` uuid NOT NULL, `receive_time` datetime NOT NULL, `outcome` text NOT NULL, `cause` text NOT NULL DEFAULT (''), `detail` text NOT NULL DEFAULT (''), `field` text NOT NULL DEFAULT (''), `event_type` text NOT NULL DEFAULT (''), `provider_event_id` text NOT NULL DEFAULT (''), `usage_event_id` text NOT NULL DEFAULT (''), `status_code` integer NOT NULL DEFAULT (0), `latency_ms` integer NOT NULL DEFAULT (0), `replay` bool NOT NULL DEFAULT (false), `data_plane` text NOT NULL DEFAULT (''), `remote_address` text NOT NULL DEFAULT (''), `method` text NOT NULL DEFAULT (''), `request_uri` text NOT NULL DEFAULT (''), `headers` json NULL, `body` blob NULL, `body_truncated` bool NOT NULL DEFAULT (false), `test` bool NOT NULL DEFAULT (false), `body_size` integer NOT NULL DEFAULT (0), `body_sha256` text NOT NULL DEFAULT (''), `unverified` bool NOT NULL DEFAULT (false), `size_bytes` integer NOT NULL DEFAULT (0), `item_count` integer NOT NULL DEFAULT (0), `items` json NULL, `items_truncated` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- Copy rows from old table "receipts" to new temporary table "new_receipts"
INSERT INTO `new_receipts` (`id`, `tenant_id`, `source_id`, `receive_time`, `outcome`, `cause`, `detail`, `field`, `event_type`, `provider_event_id`, `usage_event_id`, `status_code`, `latency_ms`, `replay`, `data_plane`, `remote_address`, `method`, `request_uri`, `headers`, `body`, `body_truncated`, `test`, `body_size`, `body_sha256`, `unverified`, `size_bytes`) SELECT `id`, `tenant_id`, `source_id`, `receive_time`, `outcome`, `cause`, `detail`, `field`, `event_type`, `provider_event_id`, `usage_event_id`, `status_code`, `latency_ms`, `replay`, `data_plane`, `remote_address`, `method`, `request_uri`, `headers`, `body`, `body_truncated`, `test`, `body_size`, `body_sha256`, `unverified`, `size_bytes` FROM `receipts`;
-- Drop "receipts" table after copying rows
DROP TABLE `receipts`;
-- Rename temporary table "new_receipts" to "receipts"
ALTER TABLE `new_receipts` RENAME TO `receipts`;
-- Create index "receipt_tenant_id" to table: "receipts"
CREATE INDEX `receipt_tenant_id` ON `receipts` (`tenant_id`);
-- Create index "receipt_source_id_receive_time_id" to table: "receipts"
CREATE INDEX `receipt_source_id_receive_time_id` ON `receipts` (`source_id`, `receive_time`, `id`);
-- Create index "receipt_source_id_provider_event_id" to table: "receipts"
CREATE INDEX `receipt_source_id_provider_event_id` ON `receipts` (`source_id`, `provider_event_id`);
-- Create index "receipt_receive_time" to table: "receipts"
CREATE INDEX `receipt_receive_time` ON `receipts` (`receive_time`);
-- Create index "receipt_unverified_receive_time" to table: "receipts"
CREATE INDEX `receipt_unverified_receive_time` ON `receipts` (`unverified`, `receive_time`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
