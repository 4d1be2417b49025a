-- location version 1 -> 2: the transaction (top Via branch and sent-by) of
-- the REGISTER that last wrote each binding, so that only a retransmission
-- of that very request may carry an equal CSeq (RFC 3261 10.3 step 7). The
-- location module applies it itself inside the transaction that opens the
-- database; rows of version 1 have no transaction recorded (NULL).

ALTER TABLE location ADD COLUMN branch TEXT DEFAULT NULL;
UPDATE version SET table_version = 2 WHERE table_name = 'location';
