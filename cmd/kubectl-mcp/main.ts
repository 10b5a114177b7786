#!/usr/bin/env node
// The `kubectl-mcp` executable (kubectl runs it for `kubectl mcp ...`).
import { main } from '../../kubectl-mcp/commands.ts';

process.exitCode = await main(process.argv.slice(2));
