"""Email templates: `<name>.txt` (plain text) and `<name>.html`, `$variable` placeholders (string.Template)."""
