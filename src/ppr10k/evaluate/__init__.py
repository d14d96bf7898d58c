"""ppr10k.evaluate"""
