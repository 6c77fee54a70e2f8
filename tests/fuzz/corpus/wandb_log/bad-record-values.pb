/

loss‚NaN

loss‚1e999

loss‚"text"