"""Lists out of siyu as files an operator opens in Excel or WPS: CSV with a UTF-8 BOM and XLSX,
localised headers, phones and emails masked unless the caller may export PII (audited)."""
