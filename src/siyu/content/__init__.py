"""Content library (内容库): message templates per channel with sandboxed personalisation,
materials (images, link cards, mini-program cards) and tracked short links."""
