-- Create index "configchange_tenant_id_id" to table: "config_changes"
CREATE INDEX "configchange_tenant_id_id" ON "config_changes" ("tenant_id", "id");
-- Secrets created before this version logged their source's change without its tenant; take it from the source
UPDATE "config_changes" SET "tenant_id" = "sources"."tenant_id" FROM "sources" WHERE "config_changes"."tenant_id" = '00000000-0000-0000-0000-000000000000' AND "config_changes"."kind" = 'source' AND "config_changes"."source_id" = "sources"."id";
