-- Create "data_planes" table
CREATE TABLE `data_planes` (`id` text NOT NULL, `zone` text NOT NULL DEFAULT (''), `build` text NOT NULL DEFAULT (''), `replica` text NOT NULL DEFAULT (''), `connected` bool NOT NULL DEFAULT (false), `connect_time` datetime NOT NULL, `last_seen_time` datetime NOT NULL, `acked_revision` integer NOT NULL DEFAULT (0), `nack_revision` integer NOT NULL DEFAULT (0), `nack_error` text NOT NULL DEFAULT (''), `nack_time` datetime NULL, PRIMARY KEY (`id`));
-- Create index "dataplane_connected_last_seen_time" to table: "data_planes"
CREATE INDEX `dataplane_connected_last_seen_time` ON `data_planes` (`connected`, `last_seen_time`);
-- Create "data_plane_tokens" table
CREATE TABLE `data_plane_tokens` (`id` uuid NOT NULL, `create_time` datetime NOT NULL, `update_time` datetime NOT NULL, `display_name` text NOT NULL DEFAULT (''), `prefix` text NOT NULL, `hash` blob NOT NULL, `last_used_time` datetime NULL, PRIMARY KEY (`id`));
-- Create index "data_plane_tokens_prefix_key" to table: "data_plane_tokens"
CREATE UNIQUE INDEX `data_plane_tokens_prefix_key` ON `data_plane_tokens` (`prefix`);
