"""Receivers connecting the documents product to platform signals (filled by the invitations
work: an invitation becomes an access when its email first signs in)."""
