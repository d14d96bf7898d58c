"""ppr10k.demo"""
