-- Recursive loop detection (PutFunctionRecursionConfig), one setting per function as in
-- Lambda: 'Allow' or 'Terminate', Terminate being what every function has until changed.
ALTER TABLE functions ADD COLUMN recursive_loop TEXT NOT NULL DEFAULT 'Terminate';
