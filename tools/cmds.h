/* SPDX-License-Identifier: MIT */
/* cmds.h - the subcommands, one per cmd_*.c file; each returns the exit code. */
#ifndef PFC_CMDS_H
#define PFC_CMDS_H

int cmd_keystore(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_rewrap(int argc, char **argv);
int cmd_retire(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_path(int argc, char **argv);
int cmd_salvage(int argc, char **argv);

#endif
