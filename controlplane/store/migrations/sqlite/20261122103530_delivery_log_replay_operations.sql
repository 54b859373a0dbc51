-- Create "delivery_attempts" table
CREATE TABLE `delivery_attempts` (`id` uuid NOT NULL, `tenant_id` uuid NOT NULL, `destination_id` uuid NOT NULL, `usage_event_id` text NOT NULL DEFAULT (''), `provider_event_id` text NOT NULL DEFAULT (''), `event_type` text NOT NULL DEFAULT (''), `source_id` text NOT NULL DEFAULT (''), `attempt` integer NOT NULL DEFAULT (0), `attempt_time` datetime NOT NULL, `status_code` integer NOT NULL DEFAULT (0), `latency_ms` integer NOT NULL DEFAULT (0), `error` text NOT NULL DEFAULT (''), `outcome` text NOT NULL, `next_retry_time` datetime NULL, `data_plane` text NOT NULL DEFAULT (''), `delivery_seq` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- Create index "deliveryattempt_tenant_id" to table: "delivery_attempts"
CREATE INDEX `deliveryattempt_tenant_id` ON `delivery_attempts` (`tenant_id`);
-- Create index "deliveryattempt_destination_id_attempt_time_id" to table: "delivery_attempts"
CREATE INDEX `deliveryattempt_destination_id_attempt_time_id` ON `delivery_attempts` (`destination_id`, `attempt_time`, `id`);
-- Create index "deliveryattempt_destination_id_usage_event_id" to table: "delivery_attempts"
CREATE INDEX `deliveryattempt_destination_id_usage_event_id` ON `delivery_attempts` (`destination_id`, `usage_event_id`);
-- Create index "deliveryattempt_destination_id_provider_event_id" to table: "delivery_attempts"
CREATE INDEX `deliveryattempt_destination_id_provider_event_id` ON `delivery_attempts` (`destination_id`, `provider_event_id`);
-- Create index "deliveryattempt_attempt_time" to table: "delivery_attempts"
CREATE INDEX `deliveryattempt_attempt_time` ON `delivery_attempts` (`attempt_time`);
-- Create "replay_operations" table
CREATE TABLE `replay_operations` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `tenant_id` uuid NOT NULL, `source_id` uuid NOT NULL, `request` blob NOT NULL, `cutoff_time` datetime NOT NULL, `state` text NOT NULL DEFAULT ('running'), `total_count` integer NOT NULL DEFAULT (0), `processed_count` integer NOT NULL DEFAULT (0), `accepted_count` integer NOT NULL DEFAULT (0), `duplicate_count` integer NOT NULL DEFAULT (0), `filtered_count` integer NOT NULL DEFAULT (0), `rejected_count` integer NOT NULL DEFAULT (0), `failed_count` integer NOT NULL DEFAULT (0), `error` text NOT NULL DEFAULT (''), `cursor_time` datetime NULL, `cursor_id` uuid NULL, `owner` text NOT NULL DEFAULT (''), `heartbeat_time` datetime NULL, `end_time` datetime NULL, PRIMARY KEY (`id`));
-- Create index "replayoperation_tenant_id" to table: "replay_operations"
CREATE INDEX `replayoperation_tenant_id` ON `replay_operations` (`tenant_id`);
-- Create index "replayoperation_source_id_id" to table: "replay_operations"
CREATE INDEX `replayoperation_source_id_id` ON `replay_operations` (`source_id`, `id`);
-- Create index "replayoperation_state" to table: "replay_operations"
CREATE INDEX `replayoperation_state` ON `replay_operations` (`state`);
