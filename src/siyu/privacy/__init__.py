"""PIPL rights (个人信息保护法 arts. 44–47): access/copy, correction, deletion, do-not-contact."""
