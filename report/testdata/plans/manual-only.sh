#!/bin/sh
# rootless-doctor: nothing for a script to do; these steps are for you:
#   1. create the home directory /home/alice owned by alice (mkhomedir_helper alice)
#   2. Log out and log in again (or reboot), so that a new session picks up the changes
