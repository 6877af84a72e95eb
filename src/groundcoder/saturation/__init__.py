"""Saturation: did held-out firms bring codes the codebook lacks, and how sure are we.

``estimators`` holds the species-richness estimators of unseen codes (Chao1, Chao2, jackknife,
coverage) and ``accumulation`` the code-accumulation curve and Guest, Namey & Chen's (2020) measure.
"""
