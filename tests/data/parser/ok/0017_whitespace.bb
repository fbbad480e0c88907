A	=	"tabs"   
B = "trailing blanks"	 

   
	
C = "after blank lines"
