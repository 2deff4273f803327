/*
 * qfile.c - (to be written)
 */
