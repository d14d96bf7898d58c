"""ppr10k.models"""
