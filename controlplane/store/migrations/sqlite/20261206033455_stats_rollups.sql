-- Create "delivery_rollups" table
CREATE TABLE `delivery_rollups` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `tenant_id` uuid NOT NULL, `destination_id` uuid NOT NULL, `minute` datetime NOT NULL, `outcome` text NOT NULL, `count` integer NOT NULL DEFAULT (0));
-- Create index "deliveryrollup_tenant_id" to table: "delivery_rollups"
CREATE INDEX `deliveryrollup_tenant_id` ON `delivery_rollups` (`tenant_id`);
-- Create index "deliveryrollup_destination_id_minute_outcome" to table: "delivery_rollups"
CREATE UNIQUE INDEX `deliveryrollup_destination_id_minute_outcome` ON `delivery_rollups` (`destination_id`, `minute`, `outcome`);
-- Create index "deliveryrollup_tenant_id_minute_destination_id_outcome_count" to table: "delivery_rollups"
CREATE INDEX `deliveryrollup_tenant_id_minute_destination_id_outcome_count` ON `delivery_rollups` (`tenant_id`, `minute`, `destination_id`, `outcome`, `count`);
-- Create index "deliveryrollup_minute" to table: "delivery_rollups"
CREATE INDEX `deliveryrollup_minute` ON `delivery_rollups` (`minute`);
-- Create "receipt_rollups" table
CREATE TABLE `receipt_rollups` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `tenant_id` uuid NOT NULL, `source_id` uuid NOT NULL, `minute` datetime NOT NULL, `outcome` text NOT NULL, `cause` text NOT NULL DEFAULT (''), `count` integer NOT NULL DEFAULT (0));
-- Create index "receiptrollup_tenant_id" to table: "receipt_rollups"
CREATE INDEX `receiptrollup_tenant_id` ON `receipt_rollups` (`tenant_id`);
-- Create index "receiptrollup_source_id_minute_outcome_cause" to table: "receipt_rollups"
CREATE UNIQUE INDEX `receiptrollup_source_id_minute_outcome_cause` ON `receipt_rollups` (`source_id`, `minute`, `outcome`, `cause`);
-- Create index "receiptrollup_tenant_id_minute_outcome_cause_count" to table: "receipt_rollups"
CREATE INDEX `receiptrollup_tenant_id_minute_outcome_cause_count` ON `receipt_rollups` (`tenant_id`, `minute`, `outcome`, `cause`, `count`);
-- Create index "receiptrollup_minute" to table: "receipt_rollups"
CREATE INDEX `receiptrollup_minute` ON `receipt_rollups` (`minute`);
-- Count the receipts and delivery attempts indexed before the rollups existed (times are stored in UTC)
INSERT INTO `receipt_rollups` (`tenant_id`, `source_id`, `minute`, `outcome`, `cause`, `count`) SELECT `tenant_id`, `source_id`, substr(`receive_time`, 1, 16) || ':00 +0000 UTC', `outcome`, `cause`, count(*) FROM `receipts` GROUP BY `tenant_id`, `source_id`, substr(`receive_time`, 1, 16), `outcome`, `cause`;
INSERT INTO `delivery_rollups` (`tenant_id`, `destination_id`, `minute`, `outcome`, `count`) SELECT `tenant_id`, `destination_id`, substr(`attempt_time`, 1, 16) || ':00 +0000 UTC', `outcome`, count(*) FROM `delivery_attempts` GROUP BY `tenant_id`, `destination_id`, substr(`attempt_time`, 1, 16), `outcome`;
