-- Create "data_planes" table
CREATE TABLE "data_planes" ("id" character varying NOT NULL, "zone" character varying NOT NULL DEFAULT '', "build" character varying NOT NULL DEFAULT '', "replica" character varying NOT NULL DEFAULT '', "connected" boolean NOT NULL DEFAULT false, "connect_time" timestamptz NOT NULL, "last_seen_time" timestamptz NOT NULL, "acked_revision" bigint NOT NULL DEFAULT 0, "nack_revision" bigint NOT NULL DEFAULT 0, "nack_error" character varying NOT NULL DEFAULT '', "nack_time" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "dataplane_connected_last_seen_time" to table: "data_planes"
CREATE INDEX "dataplane_connected_last_seen_time" ON "data_planes" ("connected", "last_seen_time");
-- Create "data_plane_tokens" table
CREATE TABLE "data_plane_tokens" ("id" uuid NOT NULL, "create_time" timestamptz NOT NULL, "update_time" timestamptz NOT NULL, "display_name" character varying NOT NULL DEFAULT '', "prefix" character varying NOT NULL, "hash" bytea NOT NULL, "last_used_time" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "data_plane_tokens_prefix_key" to table: "data_plane_tokens"
CREATE UNIQUE INDEX "data_plane_tokens_prefix_key" ON "data_plane_tokens" ("prefix");
