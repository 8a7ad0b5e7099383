"""Sign-language methods, one per subpackage; shared blocks in encoders, heads, text."""
