"""Ways out: email over SMTP, brand-name SMS over HTTP, or development sinks (files)."""
