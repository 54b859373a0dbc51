-- Modify "sources" table
ALTER TABLE "sources" ADD COLUMN "rate_limit_per_second" double precision NOT NULL DEFAULT 0, ADD COLUMN "rate_limit_burst" integer NOT NULL DEFAULT 0;
