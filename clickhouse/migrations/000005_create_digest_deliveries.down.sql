DROP TABLE IF EXISTS digest_deliveries;
