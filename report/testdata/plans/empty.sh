#!/bin/sh
# rootless-doctor: nothing to fix.
