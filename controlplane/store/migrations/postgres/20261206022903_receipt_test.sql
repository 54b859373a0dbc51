-- Modify "receipts" table
ALTER TABLE "receipts" ADD COLUMN "test" boolean NOT NULL DEFAULT false;
