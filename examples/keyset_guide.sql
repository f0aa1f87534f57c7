-- The keyset guide of the specification (shared/spec/000_969302abb082cab7.txt):
-- the sections "Prepare test data", "Use standard keysets" and "Encrypt and
-- decrypt data", copied verbatim. Run it with:
--
--   sealhouse sql --echo -f examples/keyset_guide.sql
--
-- Setup so the script can run again on the same data directory (not part of the spec):
DROP TABLE IF EXISTS mf_test_data;
DROP TABLE IF EXISTS mf_keyset;

-- ===== Prepare test data =====
-- Create a table
CREATE TABLE mf_test_data (id STRING, name STRING, tel STRING);
-- Insert sample rows
INSERT INTO mf_test_data VALUES
('1', 'kyle', '13900001234'),
('2', 'tom', '13900001111');
-- Verify the data
SELECT * FROM mf_test_data;

-- ===== Use standard keysets =====
-- Create a keyset
SELECT NEW_KEYSET('AES-GCM-256', 'my first keyset');
SELECT KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256', 'my first keyset'));
-- Add a key for rotation, option 1: an externally supplied key
SELECT KEYSET_TO_JSON(
ADD_KEY_TO_KEYSET(
NEW_KEYSET('AES-GCM-256', 'my first keyset'),
'AES-SIV-CMAC-128',
UNHEX('b75585cf321cdcad42451690cdb7bfc49c26092f60f854e72d43244c55620a3d'),
''
)
);
-- Option 2: let the warehouse generate a new key
SELECT KEYSET_TO_JSON(
ROTATE_KEYSET(
NEW_KEYSET('AES-GCM-256', 'my first keyset'),
'AES-GCM-256'
)
);

-- ===== Encrypt and decrypt data =====
-- Create a keyset storage table
CREATE TABLE mf_keyset (id STRING, ks BINARY);
-- Generate a keyset and store it
INSERT INTO mf_keyset SELECT '1', NEW_KEYSET('AES-GCM-256', 'my first keyset');
-- Encrypt the tel column
SELECT t.id, t.name, ENHANCED_SYM_ENCRYPT(k.ks, t.tel) AS tel
FROM (SELECT id, name, tel FROM mf_test_data) t
JOIN (SELECT ks FROM mf_keyset WHERE id = '1') k;
-- Decrypt the tel column
SELECT t.id, t.name,
ENHANCED_SYM_DECRYPT(
k.ks,
ENHANCED_SYM_ENCRYPT(k.ks, t.tel),
''
) AS tel
FROM (SELECT id, name, tel FROM mf_test_data) t
JOIN (SELECT ks FROM mf_keyset WHERE id = '1') k;
