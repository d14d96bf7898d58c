"""ppr10k.retouch"""
