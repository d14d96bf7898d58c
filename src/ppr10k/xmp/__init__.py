"""ppr10k.xmp"""
