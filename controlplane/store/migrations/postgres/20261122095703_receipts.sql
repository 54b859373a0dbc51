-- Create "receipts" table
CREATE TABLE "receipts" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "source_id" uuid NOT NULL, "receive_time" timestamptz NOT NULL, "outcome" character varying NOT NULL, "cause" character varying NOT NULL DEFAULT '', "detail" character varying NOT NULL DEFAULT '', "field" character varying NOT NULL DEFAULT '', "event_type" character varying NOT NULL DEFAULT '', "provider_event_id" character varying NOT NULL DEFAULT '', "usage_event_id" character varying NOT NULL DEFAULT '', "status_code" integer NOT NULL DEFAULT 0, "latency_ms" bigint NOT NULL DEFAULT 0, "replay" boolean NOT NULL DEFAULT false, "data_plane" character varying NOT NULL DEFAULT '', "remote_address" character varying NOT NULL DEFAULT '', "method" character varying NOT NULL DEFAULT '', "request_uri" character varying NOT NULL DEFAULT '', "headers" jsonb NULL, "body" bytea NULL, "body_truncated" boolean NOT NULL DEFAULT false, PRIMARY KEY ("id"));
-- Create index "receipt_receive_time" to table: "receipts"
CREATE INDEX "receipt_receive_time" ON "receipts" ("receive_time");
-- Create index "receipt_source_id_provider_event_id" to table: "receipts"
CREATE INDEX "receipt_source_id_provider_event_id" ON "receipts" ("source_id", "provider_event_id");
-- Create index "receipt_source_id_receive_time_id" to table: "receipts"
CREATE INDEX "receipt_source_id_receive_time_id" ON "receipts" ("source_id", "receive_time", "id");
-- Create index "receipt_tenant_id" to table: "receipts"
CREATE INDEX "receipt_tenant_id" ON "receipts" ("tenant_id");
