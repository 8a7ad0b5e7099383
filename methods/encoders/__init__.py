"""Sign encoders shared by the methods."""
