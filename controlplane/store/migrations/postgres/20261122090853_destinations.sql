-- Modify "config_changes" table
ALTER TABLE "config_changes" ALTER COLUMN "source_id" DROP NOT NULL, ADD COLUMN "kind" character varying NOT NULL DEFAULT 'source', ADD COLUMN "destination_id" uuid NULL;
-- Create index "configchange_destination_id" to table: "config_changes"
CREATE INDEX "configchange_destination_id" ON "config_changes" ("destination_id");
-- Create "destinations" table
CREATE TABLE "destinations" ("id" uuid NOT NULL, "create_time" timestamptz NOT NULL, "update_time" timestamptz NOT NULL, "tenant_id" uuid NOT NULL, "display_name" character varying NOT NULL, "url" character varying NOT NULL, "shared_key_ciphertext" bytea NOT NULL, "key_id" character varying NOT NULL, "shared_key_fingerprint" character varying NOT NULL, "signature_style" character varying NOT NULL DEFAULT 'standard_webhooks', "signature_header" character varying NOT NULL DEFAULT '', "status" character varying NOT NULL DEFAULT 'active', "source_ids" jsonb NULL, "retry_policy" bytea NULL, "timeout_ms" bigint NOT NULL, "max_concurrency" bigint NOT NULL, "revision" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- Create index "destination_tenant_id" to table: "destinations"
CREATE INDEX "destination_tenant_id" ON "destinations" ("tenant_id");
