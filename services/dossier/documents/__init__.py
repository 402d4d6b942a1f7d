"""Documents (thành phần hồ sơ): upload, content-type checks, content-addressed storage,
attachment to dossiers and authorised download."""
