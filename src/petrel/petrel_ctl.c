/*
 * petrel_ctl.c - (to be written)
 */
