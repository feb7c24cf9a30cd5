"use strict";
// The web app; see docs/frontend.md.
