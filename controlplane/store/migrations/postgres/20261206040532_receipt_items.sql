-- Modify "receipts" table
ALTER TABLE "receipts" ADD COLUMN "item_count" integer NOT NULL DEFAULT 0, ADD COLUMN "items" jsonb NULL, ADD COLUMN "items_truncated" boolean NOT NULL DEFAULT false;
