-- A function URL's InvokeMode (BUFFERED or RESPONSE_STREAM); rows written before it
-- were all BUFFERED, the only mode served then.
ALTER TABLE function_urls ADD COLUMN invoke_mode TEXT NOT NULL DEFAULT 'BUFFERED';
