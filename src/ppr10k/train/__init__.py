"""ppr10k.train"""
