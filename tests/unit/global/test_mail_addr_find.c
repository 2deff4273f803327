/*
 * test_mail_addr_find.c - (to be written)
 */
int main(void) { return 0; }
