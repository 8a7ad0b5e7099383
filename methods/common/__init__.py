"""Small pieces several methods share: masked pooling, contrastive objectives."""
