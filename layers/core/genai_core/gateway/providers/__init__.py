"""Model providers behind one small interface (`base.Provider`), found by name in a registry."""
