"""Documents written from the session record: SOAP notes, exports and quarterly progress reports."""
