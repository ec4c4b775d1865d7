"""Dating from all the evidence an archivist uses: the picture, the catalogue text, explicit dates, holder and place.

One module per source (picture, text, explicit, groups, and people when asked for), each giving an `Estimates` (a year and a
variance per record, or nothing); `fusion` combines them, calibrated on out-of-fold predictions with
conformal intervals; `fit` runs it all over an export's folds; `dater.FusedDater` answers with it.
"""
