"""Sign-language methods; each subpackage registers one method (shared blocks: encoders, heads, text)."""
