/*
 * mail_addr_find.c - (to be written)
 */
