"""The UmeTrack network: encoder, FTL, fusion, temporal module, skeleton encoder, regressors."""
