#!/usr/bin/env node
'use strict';
/** `npm run chaos [-- options]`: builds when needed, finds the Temporal CLI, then runs lib/bench/chaos.js. */
require('./bench.js').run('chaos');
