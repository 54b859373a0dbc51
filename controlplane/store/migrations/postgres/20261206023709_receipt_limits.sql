-- Modify "receipts" table
ALTER TABLE "receipts" ADD COLUMN "body_size" bigint NOT NULL DEFAULT 0, ADD COLUMN "body_sha256" character varying NOT NULL DEFAULT '', ADD COLUMN "unverified" boolean NOT NULL DEFAULT false, ADD COLUMN "size_bytes" bigint NOT NULL DEFAULT 0;
-- Create index "receipt_unverified_receive_time" to table: "receipts"
CREATE INDEX "receipt_unverified_receive_time" ON "receipts" ("unverified", "receive_time");
