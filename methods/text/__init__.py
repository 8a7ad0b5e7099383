"""Text models and tokenizers shared by the methods."""
