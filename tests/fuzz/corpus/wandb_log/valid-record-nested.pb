
evalloss‚1e-3
evalloss‚1e-3